//! Reply trimming: keeps what the person wrote in an email reply and drops quotes, reply
//! headers and signatures (work in progress).
