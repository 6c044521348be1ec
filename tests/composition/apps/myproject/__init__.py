"""The project app of docs/howto/composition.rst: otherapp's commands with the deploy stages."""
