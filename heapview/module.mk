# heapview: the viewer.  (filled in by the heapview engine work)
