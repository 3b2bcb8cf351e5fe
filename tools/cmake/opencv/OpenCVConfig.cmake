# A stand-in for OpenCV's own CMake config, used where that is not installed: Debian ships
# it only in libopencv-dev, which pulls every OpenCV module's -dev package (VTK, Qt, GDAL,
# FFmpeg, ... some 190 packages) while normforge links four modules. Those come with
# libopencv-{core,imgcodecs,imgproc,dnn}-dev (what tools/setup.sh installs); this finds
# them and sets what the real config sets for find_package(OpenCV COMPONENTS ...):
# OpenCV_INCLUDE_DIRS and OpenCV_LIBS. CMakeLists.txt beside it points OpenCV_DIR here
# only when find_package(OpenCV) finds no real config.
find_path(NF_OPENCV_INCLUDE_DIR opencv2/core.hpp PATH_SUFFIXES opencv4)
set(OpenCV_INCLUDE_DIRS ${NF_OPENCV_INCLUDE_DIR})
set(OpenCV_LIBS)
set(missing)
foreach(m IN LISTS OpenCV_FIND_COMPONENTS)
  find_library(NF_OPENCV_${m}_LIBRARY opencv_${m})
  if(NF_OPENCV_${m}_LIBRARY AND EXISTS ${NF_OPENCV_INCLUDE_DIR}/opencv2/${m}.hpp)
    list(APPEND OpenCV_LIBS ${NF_OPENCV_${m}_LIBRARY})
  else()
    list(APPEND missing ${m})
  endif()
endforeach()
if(NOT NF_OPENCV_INCLUDE_DIR OR missing)
  set(OpenCV_FOUND FALSE)
  set(OpenCV_NOT_FOUND_MESSAGE "OpenCV modules not found: ${missing} (install libopencv-<module>-dev)")
endif()
