//! PTR / FCrDNS check for sending IPs (to be written).
