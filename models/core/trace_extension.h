// The TLM extension that carries a trace_context on a tlm_generic_payload (DESIGN.md §3).
//
// Instrumentation may ride along, never steer: the packet accountant and the trace writers read
// this extension; no model may branch on it, route by it or change its timing because of it.
// A transaction without the extension simply belongs to no packet.
//
// Leaves out: any TLP or CPU-side field (those are in models/pcie/tlp.h). Header only; include
// it from SystemC shells only, never from a plain-C++ core.
#pragma once

#include <tlm>

#include "models/core/trace_context.h"

namespace iovsim::core {

class trace_extension : public tlm::tlm_extension<trace_extension> {
public:
    trace_extension() = default;
    explicit trace_extension(const trace_context& c) : context(c) {}

    trace_context context;

    tlm::tlm_extension_base* clone() const override { return new trace_extension(*this); }
    void copy_from(const tlm::tlm_extension_base& other) override {
        context = static_cast<const trace_extension&>(other).context;
    }
};

}  // namespace iovsim::core
