"""What a model costs at its provider: the price library's bundled snapshot, the operator's price
file and the prices added with `lava prices add` (`book`), stored in the database
(`repository`), kept fresh in every server process and managed from the command line
(`service`)."""
