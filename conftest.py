"""Repository root: the plugin itself loads through its ``pytest11`` entry point
(``pip install .``); nothing here changes how checks behave."""

collect_ignore = ["benchmarks", "build"]
