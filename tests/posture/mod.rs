mod bimi;
mod mta_sts;
mod mx;
mod ptr;
mod tls_rpt;
