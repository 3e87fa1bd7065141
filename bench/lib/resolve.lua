-- wrk script: connect to 127.0.0.1 whatever host the URL names. The URL's host (bench.test) stays the
-- TLS server name (SNI) and the Host header, so no /etc/hosts entry is needed.
wrk.resolve = function(host, service)
   wrk.addrs = wrk.lookup("127.0.0.1", service)
end
