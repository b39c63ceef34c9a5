"""Built-in plugins of Accord; each is a package exposed through the ``accord.plugins`` entry points."""
