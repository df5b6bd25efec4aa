"""Stubs generated from proto/lumenslate/storage/v1 by clients/python/generate.sh (npm run gen:grpc); do not edit."""
