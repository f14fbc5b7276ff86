package protocol

// MaxRequestBytes is the largest Request document, in bytes, that the helper reads. The helper
// rejects a larger one with CodeInvalid, so the provider should split work into several requests
// before reaching it.
const MaxRequestBytes = 64 << 20
