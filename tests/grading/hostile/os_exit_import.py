# base: reference
# os._exit while being imported: the worker process vanishes without a word.
import os

os._exit(0)
