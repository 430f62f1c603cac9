package main

import (
	"fmt"
	"math"

	"k8s.io/apimachinery/pkg/api/resource"
)

// parseQuantity reads a size written as a Kubernetes quantity (40Gi, 500Mi,
// 40G, 1.5Gi, 1048576 bytes), so --keep-storage reads like the DaemonSet's
// other sizes and means what kubectl means by it. Kubernetes' own parser:
// a fraction of a byte rounds up, as it does for a resource request.
func parseQuantity(s string) (int64, error) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size: %w", s, err)
	}
	n, exact := q.AsInt64()
	if !exact && q.Value() == math.MaxInt64 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	if !exact {
		n = q.Value()
	}
	if n <= 0 {
		return 0, fmt.Errorf("%q is not more than 0 bytes", s)
	}
	return n, nil
}
