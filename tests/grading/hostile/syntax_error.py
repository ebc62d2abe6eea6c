# base: reference
# A syntax error (found when compiling, not by a linter's parser) at the end of a correct file:
# nothing can be imported, so every case scores 0 and the message names the line.

return "this line is not inside a function"  # noqa: F706
