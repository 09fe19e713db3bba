# Included after every project() of whisper.cpp's CMake build (CMAKE_PROJECT_INCLUDE, which
# .cargo/config.toml sets and whisper-rs-sys passes on). On MinGW, ggml names its static libraries
# without the usual `lib` prefix (ggml/CMakeLists.txt sets CMAKE_STATIC_LIBRARY_PREFIX to ""), so
# rustc's `-l static=ggml` finds no `libggml.a` and the Windows cross-build fails to link. Once
# ggml's folder is read, its libraries get the prefix back. Nothing happens on other platforms.
if(MINGW AND PROJECT_NAME STREQUAL "ggml")
  function(aetheria_prefix_ggml_libraries)
    foreach(library IN ITEMS ggml ggml-base ggml-cpu)
      if(TARGET ${library})
        set_target_properties(${library} PROPERTIES PREFIX "lib")
      endif()
    endforeach()
  endfunction()
  cmake_language(DEFER CALL aetheria_prefix_ggml_libraries)
endif()
