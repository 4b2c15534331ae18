// Built when oneDNN is not installed: the peer is simply absent.
#include "targets.h"

namespace bench {

std::unique_ptr<Target> open_onednn_target(uint32_t, std::string* note) {
  *note = "oneDNN: not built in (install libdnnl-dev and reconfigure)";
  return nullptr;
}

}  // namespace bench
