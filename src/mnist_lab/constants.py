"""Constants of the domain, defined once for the package.

The student module ``digits.py`` is handed out on its own, so it defines the same four names at
its top; a test checks that the two agree.
"""

IMAGE_SIDE = 28  # an MNIST image is IMAGE_SIDE x IMAGE_SIDE pixels
NUM_PIXELS = IMAGE_SIDE * IMAGE_SIDE  # 784 input values per image
NUM_CLASSES = 10  # the digits 0 to 9
MAX_PIXEL_VALUE = 255  # the brightest grey level

ASSIGNMENT_NAME = "MNIST digit recognition"  # the default name of the assignment

# The release's file names (build writes them; grading recognises a release given by mistake).
STUDENT_MODULE = "digits.py"  # the module students complete and hand in
NOTEBOOK_NAME = "mnist_digits.ipynb"
TESTS_FOLDER = "tests"  # the students' public checks
STUDENT_PAGE = "quiz.html"
MANIFEST = ".mnist-lab-build.json"  # what a build wrote (a rebuild replaces only a build)
