# heapview/ui.mk - the interactive view's extra targets (included by heapview/module.mk).
#   make demo       install missing packages (tools/deps.sh), build, run heapview on the
#                   teaching workload tests/progs/demo (killed when heapview quits)
#   make bench-ui   refresh cost of the interactive view on a heap of ~100k chunks
#                   (frames per second, target stop time); prints a table, asserts nothing
.PHONY: bench-ui

demo: deps-quiet real-all
	@bash heapview/ui_demo.sh $(B)

bench-ui: real-all
	@bash heapview/ui_bench.sh $(B)
