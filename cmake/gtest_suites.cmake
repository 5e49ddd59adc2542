# Registers one CTest test per GoogleTest suite of a test binary (not one per case), at ctest
# time: the binary lists its tests and each suite becomes `<suite>` run with
# --gtest_filter=<suite>.*. For suites whose cases share an expensive fixture (one Redis, one
# cluster, one delayq started in SetUpTestSuite), one process per case would start it per case.
#
# Run as a script by the include file that delayq_test(... PER_SUITE) writes, with
#   DQ_EXE (the test binary), DQ_LABELS, DQ_RESOURCE_LOCK (may be empty), DQ_WORKDIR.
execute_process(COMMAND "${DQ_EXE}" --gtest_list_tests OUTPUT_VARIABLE listing
                RESULT_VARIABLE status TIMEOUT 60 WORKING_DIRECTORY "${DQ_WORKDIR}")
get_filename_component(dq_name "${DQ_EXE}" NAME)
if(NOT status EQUAL 0)
  # Shows as a failing test rather than silently registering nothing.
  add_test("${dq_name}_NOT_LISTED" "${DQ_EXE}" --gtest_list_tests)
  return()
endif()
string(REPLACE "\n" ";" lines "${listing}")
foreach(line IN LISTS lines)
  # Suite lines start in column 0 and end with '.', maybe followed by a "# TypeParam" comment.
  if(line MATCHES "^([^ #][^ ]*)\\.( .*)?$")
    set(suite "${CMAKE_MATCH_1}")
    if(suite MATCHES "^DISABLED_|/DISABLED_")
      continue()
    endif()
    add_test("${suite}" "${DQ_EXE}" "--gtest_filter=${suite}.*")
    set_tests_properties("${suite}" PROPERTIES LABELS "${DQ_LABELS}" WORKING_DIRECTORY
                         "${DQ_WORKDIR}")
    if(DQ_RESOURCE_LOCK)
      set_tests_properties("${suite}" PROPERTIES RESOURCE_LOCK "${DQ_RESOURCE_LOCK}")
    endif()
  endif()
endforeach()
