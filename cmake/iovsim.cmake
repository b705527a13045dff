include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# iovsim_library(NAME DEPS...): one static library per folder, built from every .cpp in it.
# Headers are included from the repository root ("models/pcie/tlp.h").
# Installed (iovsim_install_package below): the library into lib/, its folder's headers into
# include/iovsim/<folder>/, so the same includes work against the installed package.
function(iovsim_library name)
    file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
    set(includes $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/iovsim>)
    if(NOT srcs)  # headers only (so far)
        add_library(${name} INTERFACE)
        target_include_directories(${name} INTERFACE ${includes})
        target_link_libraries(${name} INTERFACE ${ARGN})
    else()
        add_library(${name} STATIC ${srcs})
        target_include_directories(${name} PUBLIC ${includes})
        target_link_libraries(${name} PUBLIC ${ARGN})
    endif()
    if(IOVSIM_SANITIZE)  # an installed sanitizer build: users must compile and link the same way
        target_compile_options(${name} INTERFACE "$<INSTALL_INTERFACE:${IOVSIM_SANITIZE_FLAGS}>")
        target_link_options(${name} INTERFACE "$<INSTALL_INTERFACE:${IOVSIM_SANITIZE_LINK_FLAGS}>")
    endif()
    set_property(GLOBAL APPEND PROPERTY IOVSIM_LIBRARIES ${name})
    file(RELATIVE_PATH folder ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
    install(TARGETS ${name} EXPORT iovsimTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
    install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/iovsim/${folder}
        FILES_MATCHING PATTERN "*.h"
        PATTERN tests EXCLUDE PATTERN bench EXCLUDE PATTERN testing EXCLUDE)
endfunction()

# iovsim_install_package(): after every folder is added. The umbrella target iovsim::iovsim
# (every iovsim_library), the iovsim executable, the shipped configs and the CMake package
# (lib/cmake/iovsim: iovsimConfig.cmake, its version file, iovsimTargets.cmake), so that another
# project can `find_package(iovsim)` and link `iovsim::iovsim`.
function(iovsim_install_package)
    get_property(libs GLOBAL PROPERTY IOVSIM_LIBRARIES)
    add_library(iovsim_all INTERFACE)
    target_link_libraries(iovsim_all INTERFACE ${libs})
    set_target_properties(iovsim_all PROPERTIES EXPORT_NAME iovsim)
    add_library(iovsim::iovsim ALIAS iovsim_all)
    install(TARGETS iovsim_all EXPORT iovsimTargets)
    install(TARGETS iovsim RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/platform/configs/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/iovsim/configs)

    set(cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/iovsim)
    install(EXPORT iovsimTargets NAMESPACE iovsim:: DESTINATION ${cmake_dir})
    configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/iovsimConfig.cmake.in
        ${PROJECT_BINARY_DIR}/iovsimConfig.cmake INSTALL_DESTINATION ${cmake_dir})
    # 0.x: a minor release may change the API.
    write_basic_package_version_file(${PROJECT_BINARY_DIR}/iovsimConfigVersion.cmake
        VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
    install(FILES ${PROJECT_BINARY_DIR}/iovsimConfig.cmake
        ${PROJECT_BINARY_DIR}/iovsimConfigVersion.cmake DESTINATION ${cmake_dir})
endfunction()

# iovsim_tests(NAME DEPS...): one gtest executable from tests/*.cpp; every test case runs in its
# own process (SystemC allows one elaboration per process), each ctest entry labelled NAME.
function(iovsim_tests name)
    file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/*.cpp)
    if(NOT srcs)
        return()
    endif()
    add_executable(${name} ${srcs})
    target_link_libraries(${name} PRIVATE ${ARGN} GTest::gmock GTest::gtest)
    target_compile_definitions(${name} PRIVATE IOVSIM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
    gtest_discover_tests(${name} PROPERTIES LABELS ${name} DISCOVERY_TIMEOUT 60)
endfunction()

# iovsim_benchmark(NAME SOURCES DEPS...): a Google Benchmark binary, never run by ctest.
function(iovsim_benchmark name)
    file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/bench/*.cpp)
    if(NOT srcs)
        return()
    endif()
    add_executable(${name} ${srcs})
    target_link_libraries(${name} PRIVATE ${ARGN} benchmark::benchmark iovsim_sc_main_stub)
endfunction()
