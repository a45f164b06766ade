#include "kernels/onednn_gemm.h"

#include <omp.h>

#include <dnnl.hpp>
#include <map>
#include <utility>

namespace dsv32 {

struct OnednnGemm::Impl {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::map<std::pair<std::int64_t, std::int64_t>, dnnl::matmul> primitives;  // by (cols, rows)

  dnnl::matmul& primitive(std::int64_t cols, std::int64_t rows) {
    const auto key = std::make_pair(cols, rows);
    auto found = primitives.find(key);
    if (found != primitives.end()) return found->second;
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    const dnnl::memory::desc x_desc({DNNL_RUNTIME_DIM_VAL, cols}, dt::bf16, tag::ab);
    const dnnl::memory::desc w_desc({cols, rows}, dt::bf16, tag::ba);  // W stored rows x cols: its transpose, column-major
    const dnnl::memory::desc out_desc({DNNL_RUNTIME_DIM_VAL, rows}, dt::f32, tag::ab);
    const dnnl::matmul::primitive_desc description(dnnl::matmul::desc(x_desc, w_desc, out_desc), engine);
    return primitives.emplace(key, dnnl::matmul(description)).first->second;
  }
};

OnednnGemm::OnednnGemm() : impl_(std::make_unique<Impl>()) {}
OnednnGemm::~OnednnGemm() = default;

void OnednnGemm::multiply(const std::uint16_t* x, std::int64_t tokens, const std::uint16_t* w, std::int64_t rows, std::int64_t cols,
                          float* out) {
  // oneDNN parallelises over omp_get_max_threads() of the calling thread: one, on every thread
  // that calls here (the pool's threads split the work themselves).
  thread_local const bool single_threaded = [] {
    omp_set_num_threads(1);
    return true;
  }();
  (void)single_threaded;
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  dnnl::matmul& matmul = impl_->primitive(cols, rows);
  // oneDNN's memory objects take non-const handles; it only reads x and w.
  dnnl::memory x_memory({{tokens, cols}, dt::bf16, tag::ab}, impl_->engine, const_cast<std::uint16_t*>(x));
  dnnl::memory w_memory({{cols, rows}, dt::bf16, tag::ba}, impl_->engine, const_cast<std::uint16_t*>(w));
  dnnl::memory out_memory({{tokens, rows}, dt::f32, tag::ab}, impl_->engine, out);
  matmul.execute(impl_->stream, {{DNNL_ARG_SRC, x_memory}, {DNNL_ARG_WEIGHTS, w_memory}, {DNNL_ARG_DST, out_memory}});
  impl_->stream.wait();
}

}  // namespace dsv32
