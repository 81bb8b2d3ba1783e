# turbine_component(NAME DIR [DEPS ...]): a static library turbine_NAME from DIR/*.cpp
# (and DIR/*.cu when CUDA is on). Globbing keeps "one concept per file" cheap: adding a file
# needs no CMake edit.
function(turbine_component name dir)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${dir}/*.cpp)
  if(TURBINE_HAVE_CUDA)
    file(GLOB cu_srcs CONFIGURE_DEPENDS ${dir}/*.cu)
    list(APPEND srcs ${cu_srcs})
  endif()
  if(srcs)
    add_library(turbine_${name} STATIC ${srcs})
    target_link_libraries(turbine_${name} PUBLIC ${ARG_DEPS} Threads::Threads)
    target_include_directories(turbine_${name} PUBLIC ${CMAKE_SOURCE_DIR})
  else()
    add_library(turbine_${name} INTERFACE)
    target_link_libraries(turbine_${name} INTERFACE ${ARG_DEPS})
  endif()
endfunction()
