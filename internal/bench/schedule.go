package bench

// Step is one round: Kind runs at Clients concurrent clients.
type Step struct {
	Clients int
	Round   int
	Kind    string
}

// Schedule interleaves kinds a and b in rounds pairs of short runs for each
// client count. The order swaps every round (a b, b a, a b, ...), so a burst
// of machine noise or a slow drift hits both kinds alike.
func Schedule(levels []int, rounds int, a, b string) []Step {
	steps := make([]Step, 0, len(levels)*rounds*2)

	for _, clients := range levels {
		for round := range rounds {
			first, second := a, b
			if round%2 == 1 {
				first, second = b, a
			}

			steps = append(steps,
				Step{Clients: clients, Round: round, Kind: first},
				Step{Clients: clients, Round: round, Kind: second})
		}
	}

	return steps
}
