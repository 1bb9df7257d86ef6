# zlib (required) -> ZLIB::ZLIB: inflates the compressed elements of MAT-files (the SVHN reader).
find_package(ZLIB)
if(NOT ZLIB_FOUND)
  message(FATAL_ERROR "zlib was not found (zlib.h and libz; needed to read SVHN .mat files): "
                      "sudo apt-get install zlib1g-dev (or run scripts/setup-deps.sh)")
endif()
