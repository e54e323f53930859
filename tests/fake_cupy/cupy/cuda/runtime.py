"""``cupy.cuda.runtime`` of the stand-in: one device."""


def getDeviceCount():
    return 1


def getDevice():
    return 0


def deviceSynchronize():
    pass


def runtimeGetVersion():
    return 12080


def getDeviceProperties(device):
    return {"name": b"CuPy stand-in (NumPy)", "totalGlobalMem": 0, "major": 9, "minor": 0}
