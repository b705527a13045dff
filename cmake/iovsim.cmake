# iovsim_library(NAME DEPS...): one static library per folder, built from every .cpp in it.
# Headers are included from the repository root ("models/pcie/tlp.h").
function(iovsim_library name)
    file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
    if(NOT srcs)  # headers only (so far)
        add_library(${name} INTERFACE)
        target_include_directories(${name} INTERFACE ${PROJECT_SOURCE_DIR})
        target_link_libraries(${name} INTERFACE ${ARGN})
        return()
    endif()
    add_library(${name} STATIC ${srcs})
    target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
    target_link_libraries(${name} PUBLIC ${ARGN})
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
