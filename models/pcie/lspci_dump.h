// Configuration space as `lspci -xxxx` prints it, so that `lspci -vvv -F FILE` decodes it.
//
// Models the text format pciutils' dump back end reads (lib/dump.c): a line that starts with the
// slot "BB:DD.F " (the trailing space is required), then lines "OFF: xx xx …" of 16 bytes each,
// the offset in lower-case hex of at least two digits ("00:" … "f0:", "100:" … "ff0:"), and a
// blank line that ends the function. All 4096 bytes are written, so lspci decodes the extended
// capabilities too. The slot line carries what `lspci -n` prints after the slot (class and
// vendor:device in hex, and the revision if not 0); lspci -F ignores it and names the device
// itself from its pci.ids database.
//
// Leaves out: PCI domains (always 0000, omitted as lspci does), BAR sizes (the dump format has no
// place for them, so `lspci -F` prints regions without "[size=…]").
//
// Timing: none.
#pragma once

#include <cstdint>
#include <string>

#include "models/pcie/config_space.h"
#include "models/pcie/routing_id.h"

namespace iovsim::pcie {

// One function; concatenating the results of several calls gives a multi-function dump.
std::string lspci_dump(routing_id id, const config_space& cs);
// The same from the 4096 bytes a configuration-space reader got (e.g. through ECAM).
std::string lspci_dump(routing_id id, const std::uint8_t* bytes);

}  // namespace iovsim::pcie
