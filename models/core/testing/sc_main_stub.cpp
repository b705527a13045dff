// For binaries with a main() of their own (Google Benchmark) that link libsystemc, whose main()
// they replace but whose sc_main reference must still resolve. Never called.
#include <systemc>

int sc_main(int, char*[]) { return 0; }
