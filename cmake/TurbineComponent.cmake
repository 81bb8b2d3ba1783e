# Components and the layering between them (docs/ARCHITECTURE.md, "Layers").
#
# turbine_layer(LAYER SEES comp...): an include root ${CMAKE_BINARY_DIR}/layers/LAYER that
# holds a link to each component folder the layer may include (its own among them), and
# nothing else. Every target of the layer compiles against that root alone, so
# `#include "engine/..."` from kernels/ or sidecar/ names a file that does not exist there
# and fails to compile: the build enforces base -> nothing; kernels -> base;
# engine -> kernels, base; sidecar -> base.
#
# turbine_component(NAME LAYER layer DIRS dir... [DEPS target...]): a static library
# turbine_NAME from DIR/*.cpp (and DIR/*.cu when CUDA is on). Globbing keeps "one concept
# per file" cheap: adding a file needs no CMake edit.
function(turbine_layer layer)
  cmake_parse_arguments(ARG "" "" "SEES" ${ARGN})
  set(root ${CMAKE_BINARY_DIR}/layers/${layer})
  file(REMOVE_RECURSE ${root})
  file(MAKE_DIRECTORY ${root})
  foreach(comp ${ARG_SEES})
    file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${comp} ${root}/${comp} SYMBOLIC)
  endforeach()
  set_property(GLOBAL PROPERTY turbine_layer_${layer} ${root})
endfunction()

function(turbine_layer_root layer out)
  get_property(root GLOBAL PROPERTY turbine_layer_${layer})
  if(NOT root)
    message(FATAL_ERROR "turbine: unknown layer '${layer}'")
  endif()
  set(${out} ${root} PARENT_SCOPE)
endfunction()

function(turbine_component name)
  cmake_parse_arguments(ARG "" "LAYER" "DIRS;DEPS" ${ARGN})
  turbine_layer_root(${ARG_LAYER} root)
  set(srcs)
  foreach(dir ${ARG_DIRS})
    file(GLOB dir_srcs CONFIGURE_DEPENDS ${dir}/*.cpp)
    list(APPEND srcs ${dir_srcs})
    if(TURBINE_HAVE_CUDA)
      file(GLOB cu_srcs CONFIGURE_DEPENDS ${dir}/*.cu)
      list(APPEND srcs ${cu_srcs})
    endif()
  endforeach()
  if(srcs)
    add_library(turbine_${name} STATIC ${srcs})
    target_link_libraries(turbine_${name} PUBLIC ${ARG_DEPS} Threads::Threads)
    # PUBLIC: a dependent sees this layer's root too, which is always a subset of its own
    # (dependencies only point down the layers).
    target_include_directories(turbine_${name} PUBLIC ${root})
  else()
    add_library(turbine_${name} INTERFACE)
    target_link_libraries(turbine_${name} INTERFACE ${ARG_DEPS})
    target_include_directories(turbine_${name} INTERFACE ${root})
  endif()
endfunction()
