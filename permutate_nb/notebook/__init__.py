"""The notebook face: magics, progress widgets, the result view and the request builder.

Imported only by ``%load_ext permutate_nb`` or explicitly; the core never imports it.
"""
