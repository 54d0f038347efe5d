package evio

// InputStream accumulates the bytes of a stream across Data events, so a
// protocol parser can keep an incomplete message for the next event.
//
// Use it from the events of one connection (keep it in the connection's
// Context):
//
//	data := is.Begin(in)
//	// consume as many whole messages from data as possible
//	is.End(data[consumed:])
//
// It is not safe for concurrent use.
type InputStream struct {
	buffered []byte
}

// Begin adds packet to whatever the previous End kept, and returns the bytes
// not yet consumed. When nothing was kept, it returns packet itself, without
// copying.
func (is *InputStream) Begin(packet []byte) (data []byte) {
	if len(is.buffered) == 0 {
		return packet
	}
	is.buffered = append(is.buffered, packet...)
	return is.buffered
}

// End keeps data, the bytes left unconsumed from what Begin returned, for
// the next Begin. data is copied, so it may alias the Data event's in even
// when Options.ReuseInputBuffer is set. An empty data empties the stream; a
// buffer grown past 64 KiB is then released rather than kept.
func (is *InputStream) End(data []byte) {
	if len(data) == 0 {
		if cap(is.buffered) > maxKeptInputStream {
			is.buffered = nil
		} else {
			is.buffered = is.buffered[:0]
		}
		return
	}
	// data usually lies inside is.buffered's array; append moves it to the
	// front with memmove semantics, so the overlap is safe.
	is.buffered = append(is.buffered[:0], data...)
}

// maxKeptInputStream bounds the memory an empty InputStream keeps for reuse.
const maxKeptInputStream = 64 << 10
