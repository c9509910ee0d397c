from setuptools import setup

setup(
    cffi_modules=["pyflow/_build.py:ffibuilder"],
)
