#include <systemc>
// Placeholder until the CLI lands.
int sc_main(int, char**) { return 0; }
