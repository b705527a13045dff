#include "models/emu-nic/e1000_regs.h"

#include "models/mem/sparse_store.h"

namespace iovsim::emunic {

std::array<std::uint8_t, descriptor_bytes> tx_desc::encode() const {
    std::array<std::uint8_t, descriptor_bytes> b{};
    mem::store_le<std::uint64_t>(&b[0], buffer_addr);
    mem::store_le<std::uint16_t>(&b[8], length);
    b[10] = cso;
    b[11] = cmd;
    b[12] = sta;
    b[13] = css;
    mem::store_le<std::uint16_t>(&b[14], special);
    return b;
}

tx_desc tx_desc::decode(const std::uint8_t* b) {
    tx_desc d;
    d.buffer_addr = mem::load_le<std::uint64_t>(&b[0]);
    d.length = mem::load_le<std::uint16_t>(&b[8]);
    d.cso = b[10];
    d.cmd = b[11];
    d.sta = b[12];
    d.css = b[13];
    d.special = mem::load_le<std::uint16_t>(&b[14]);
    return d;
}

std::array<std::uint8_t, descriptor_bytes> rx_desc::encode() const {
    std::array<std::uint8_t, descriptor_bytes> b{};
    mem::store_le<std::uint64_t>(&b[0], buffer_addr);
    mem::store_le<std::uint16_t>(&b[8], length);
    mem::store_le<std::uint16_t>(&b[10], csum);
    b[12] = status;
    b[13] = errors;
    mem::store_le<std::uint16_t>(&b[14], special);
    return b;
}

rx_desc rx_desc::decode(const std::uint8_t* b) {
    rx_desc d;
    d.buffer_addr = mem::load_le<std::uint64_t>(&b[0]);
    d.length = mem::load_le<std::uint16_t>(&b[8]);
    d.csum = mem::load_le<std::uint16_t>(&b[10]);
    d.status = b[12];
    d.errors = b[13];
    d.special = mem::load_le<std::uint16_t>(&b[14]);
    return d;
}

}  // namespace iovsim::emunic
