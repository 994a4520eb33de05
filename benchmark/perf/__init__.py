"""Speed tools: `throughput` times the engine against each algorithm's naive per-model loop; `ceiling` times a
model's convolution kernels alone, the most an engine stepping models in turn could reach."""
