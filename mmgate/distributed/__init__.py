"""Scale-out on Ray (the optional ``ray`` extra): a cluster connection (``cluster``), the canary
embedded in shards by Ray Data actors (``embedding``), and the retrieval panel's runs of query rows
as Ray tasks merged exactly into the local result (``panel``)."""
