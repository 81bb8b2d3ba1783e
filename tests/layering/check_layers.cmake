# The layering check (docs/ARCHITECTURE.md, "Layers"), run by ctest as `layering`:
#   cmake -DSOURCE_DIR=... -DLAYERS_DIR=... -DCXX=... -P check_layers.cmake
# 1. Every quoted #include in base/, kernels/, engine/ and sidecar/ names a component its
#    layer may see (a relative "../" include would slip past the include roots; this does not).
# 2. The include roots themselves enforce it: for each layer, a file that includes a header
#    of a component the layer may not see fails to compile against that layer's root, and
#    one that includes an allowed header compiles.
cmake_minimum_required(VERSION 3.22)

set(allowed_base "base")
set(allowed_kernels "base;kernels")
set(allowed_engine "base;kernels;engine")
set(allowed_sidecar "base;sidecar")

set(failures 0)
macro(fail msg)
  message("layering: ${msg}")
  math(EXPR failures "${failures} + 1")
endmacro()

# --- 1. every include line -----------------------------------------------------------------
foreach(layer base kernels engine sidecar)
  file(GLOB_RECURSE files "${SOURCE_DIR}/${layer}/*.h" "${SOURCE_DIR}/${layer}/*.cpp"
       "${SOURCE_DIR}/${layer}/*.cu" "${SOURCE_DIR}/${layer}/*.cuh" "${SOURCE_DIR}/${layer}/*.inc")
  foreach(f ${files})
    file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
    file(RELATIVE_PATH rel "${SOURCE_DIR}" "${f}")
    foreach(line ${lines})
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]*)\".*" "\\1" inc "${line}")
      string(REGEX MATCH "^[^/]*" comp "${inc}")
      if(NOT inc MATCHES "/")
        fail("${rel}: '#include \"${inc}\"' is not rooted at a component (write ${layer}/...)")
      elseif(NOT comp IN_LIST allowed_${layer})
        fail("${rel}: includes \"${inc}\"; ${layer}/ may include only ${allowed_${layer}}")
      endif()
    endforeach()
  endforeach()
endforeach()

# --- 2. the include roots reject what the lines above would -------------------------------
# (layer, header it must not reach, header it must reach)
set(probes
  "base|kernels/backend.h|base/result.h"
  "base|engine/runtime/engine.h|base/metrics/registry.h"
  "kernels|engine/runtime/engine.h|kernels/backend.h"
  "kernels|sidecar/scale_policy.h|base/dtype.h"
  "sidecar|engine/runtime/engine.h|sidecar/scale_policy.h"
  "sidecar|kernels/backend.h|base/log.h"
  "engine|sidecar/scale_policy.h|engine/runtime/scheduler.h")
set(work "${LAYERS_DIR}/../layering-probes")
file(MAKE_DIRECTORY "${work}")
foreach(p ${probes})
  string(REPLACE "|" ";" p "${p}")
  list(GET p 0 layer)
  list(GET p 1 forbidden)
  list(GET p 2 allowed)
  foreach(kind forbidden allowed)
    set(src "${work}/${layer}_${kind}.cpp")
    file(WRITE "${src}" "#include \"${${kind}}\"\nint main() { return 0; }\n")
    execute_process(COMMAND "${CXX}" -std=c++20 -fsyntax-only -I "${LAYERS_DIR}/${layer}" "${src}"
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(kind STREQUAL "forbidden")
      if(rc EQUAL 0)
        fail("${layer}/ code can include ${forbidden}: its include root lets it through")
      elseif(NOT err MATCHES "No such file")
        fail("${layer} probe of ${forbidden} failed for another reason:\n${err}")
      endif()
    elseif(NOT rc EQUAL 0)
      fail("${layer}/ code cannot include ${allowed}, which it may:\n${err}")
    endif()
  endforeach()
endforeach()

if(failures GREATER 0)
  message(FATAL_ERROR "layering: ${failures} violation(s)")
endif()
message("layering: ok")
