//! Copying a whole store into another (filled below).
