// sc_main for SystemC test binaries: libsystemc's main() calls it (DESIGN.md §9). It runs
// googletest with a SystemC report handler that turns every SC_WARNING, SC_ERROR and SC_FATAL
// into a test failure carrying the report's message, then does what SystemC's default handler
// does (display, log, stop, throw for SC_ERROR, abort for SC_FATAL), so an error still stops
// the test. SC_INFO reports pass through untouched.
#include <gtest/gtest.h>

#include <systemc>

namespace {

void report_to_gtest(const sc_core::sc_report& report, const sc_core::sc_actions& actions) {
    if (report.get_severity() >= sc_core::SC_WARNING) {
        ADD_FAILURE() << "SystemC report: " << sc_core::sc_report_compose_message(report);
    }
    sc_core::sc_report_handler::default_handler(report, actions);
}

}  // namespace

int sc_main(int argc, char* argv[]) {
    sc_core::sc_report_handler::set_handler(&report_to_gtest);
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
