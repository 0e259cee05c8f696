mod spf;
