package socket

// fionwrite is NetBSD's FIONWRITE, _IOR('f', 121, int).
const fionwrite = 0x40046679
