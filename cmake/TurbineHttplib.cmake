# turbine_httplib: Debian's cpp-httplib for the server and the sidecar.
# Debian's cpp-httplib is a compiled library (libcpp-httplib.so) whose header changes its
# class layouts with the feature macros: every user must see the macros it was built with
# (those of its cpp-httplib.pc), or objects disagree about the size of a Server.
include_guard(GLOBAL)
find_path(HTTPLIB_INCLUDE_DIR httplib.h REQUIRED)
find_library(HTTPLIB_LIBRARY cpp-httplib REQUIRED)
find_package(OpenSSL REQUIRED)
add_library(turbine_httplib INTERFACE)
target_include_directories(turbine_httplib INTERFACE ${HTTPLIB_INCLUDE_DIR})
target_compile_definitions(turbine_httplib INTERFACE CPPHTTPLIB_OPENSSL_SUPPORT
  CPPHTTPLIB_ZLIB_SUPPORT CPPHTTPLIB_BROTLI_SUPPORT)
target_link_libraries(turbine_httplib INTERFACE ${HTTPLIB_LIBRARY} OpenSSL::SSL
  OpenSSL::Crypto Threads::Threads)
