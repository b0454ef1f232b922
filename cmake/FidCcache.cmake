# ccache when present. PCH-using targets need the sloppiness below, else every
# compile misses the cache.
find_program(FID_CCACHE ccache)
if(FID_CCACHE)
  set(_launcher ${CMAKE_COMMAND} -E env
      CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
      ${FID_CCACHE})
  set(CMAKE_C_COMPILER_LAUNCHER ${_launcher})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${_launcher})
  message(STATUS "ccache: ${FID_CCACHE}")
endif()
