module example.com/saveflow

go 1.19

// v4.5.2 fixes CVE-2024-51744 and CVE-2025-30204 (in parsing, which this code does not use). make test builds
// against Debian's golang-jwt 4.4.3 through a replace directive: the signing API is the same.
require github.com/golang-jwt/jwt/v4 v4.5.2
