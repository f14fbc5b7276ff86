package seccomp

// Suggest returns the candidate closest to name by edit distance, for a "did you mean" hint.
// It reports false when no candidate is close enough to be a likely typo: the distance must be
// at most 2, or at most a third of the name's length for longer names. Ties go to the
// lexically first candidate, so the result does not depend on the order of candidates.
func Suggest(name string, candidates []string) (string, bool) {
	limit := max(2, len(name)/3)
	best, bestDistance := "", limit+1
	for _, candidate := range candidates {
		if candidate == name {
			continue
		}
		d := editDistance(name, candidate)
		if d < bestDistance || (d == bestDistance && candidate < best) {
			best, bestDistance = candidate, d
		}
	}
	return best, bestDistance <= limit
}

// editDistance is the Levenshtein distance between a and b, counted in bytes: syscall names
// are ASCII.
func editDistance(a, b string) int {
	previous := make([]int, len(b)+1)
	current := make([]int, len(b)+1)
	for j := range previous {
		previous[j] = j
	}
	for i := 1; i <= len(a); i++ {
		current[0] = i
		for j := 1; j <= len(b); j++ {
			substitution := previous[j-1]
			if a[i-1] != b[j-1] {
				substitution++
			}
			current[j] = min(previous[j]+1, current[j-1]+1, substitution)
		}
		previous, current = current, previous
	}
	return previous[len(b)]
}
