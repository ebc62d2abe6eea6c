# base: reference
# Tries to read the hidden tests, the fixtures and the reference solution, and to print them.
import glob
import os

SECRETS = [
    "@SOURCE_DIR@",
    "@FIXTURES_DIR@",
    "@SOLUTIONS_DIR@",
    "@PACKAGE_DIR@",
    "@GIT_DIR@",
]


def stolen():
    """Everything readable under the secret folders: {path: first bytes}."""
    found = {}
    for folder in SECRETS:
        try:
            os.listdir(folder)
            found[folder] = "<listed>"
        except OSError:
            pass
        for path in glob.glob(os.path.join(folder, "**", "*"), recursive=True):
            try:
                with open(path, "rb") as stream:
                    found[path] = stream.read(200).decode("latin-1")
            except OSError:
                pass
    print(found)
    return found


stolen()
