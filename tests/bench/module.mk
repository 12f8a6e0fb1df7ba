# benchmarks (filled in by the benchmark work)
bench:
	@echo "no benchmarks yet"
