module taskflow.local/bench/peers/measure

go 1.26.0
