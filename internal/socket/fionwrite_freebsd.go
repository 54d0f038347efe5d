package socket

// fionwrite is FreeBSD's FIONWRITE, _IOR('f', 119, int).
const fionwrite = 0x40046677
