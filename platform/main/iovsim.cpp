// The iovsim executable. Its own main() replaces libsystemc's so that SystemC's banner is off
// before the kernel starts; the kernel then calls sc_main as usual.
#include <cstdlib>
#include <systemc>

#include "platform/cli.h"

int sc_main(int argc, char* argv[]) { return iovsim::platform::cli_main(argc, argv); }

int main(int argc, char* argv[]) {
    setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
    return sc_core::sc_elab_and_sim(argc, argv);
}
