# base: reference
# An exception while the module is imported (exploration code left at the bottom).

training_images = load_everything()  # noqa: F821 - NameError on purpose
