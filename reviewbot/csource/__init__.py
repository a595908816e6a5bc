"""The kernel C front end: the only package that imports tree_sitter / tree_sitter_c."""
