# Reference values for metareview's two-group GLMM for odds ratios (metareview.glmm.glmm_or):
# metafor's rma.glmm(measure = "OR", model = "CM.AL") through lme4, the conditional model
# with the approximate (binomial) likelihood: ai ~ Bin(ai + ci, expit(log(n1i/n2i) + theta_i)).
#
# Run from the repository root:
#     Rscript tests/r/make_reference_glmm_or.R
#
# Writes tests/fixtures/glmm/or_cmal.json.  Fits are recorded with a tight bobyqa tolerance
# (control = list(glmerCtrl = ...)), the maximum of lme4's own approximation, as in
# make_reference_glmm.R; the common-effect model is glm's and needs no such control.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(lme4)
  library(jsonlite)
})

OUT_DIR <- file.path("tests", "fixtures", "glmm")
dir.create(OUT_DIR, recursive = TRUE, showWarnings = FALSE)
TIGHT <- list(glmerCtrl = list(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10, maxfun = 1e5)))
TIGHT_TEXT <- 'list(glmerCtrl = list(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10, maxfun = 1e5)))'
num <- function(x) as.numeric(x)

TABLES <- list(
  bcg = with(dat.bcg, list(ai = tpos, n1i = tpos + tneg, ci = cpos, n2i = cpos + cneg,
                           source = "metadat::dat.bcg")),
  nielweise2007 = with(dat.nielweise2007, list(ai = ai, n1i = n1i, ci = ci, n2i = n2i,
                                               source = "metadat::dat.nielweise2007 (zero cells, one double-zero table)")),
  li2007 = with(dat.li2007, list(ai = ai, n1i = n1i, ci = ci, n2i = n2i,
                                 source = "metadat::dat.li2007 (zero cells)"))
)

record <- function(fit, call) {
  pr <- predict(fit)
  list(call = call, beta = num(fit$beta), se = num(fit$se), ci_lb = num(fit$ci.lb), ci_ub = num(fit$ci.ub),
       zval = num(fit$zval), pval = num(fit$pval), tau2 = num(fit$tau2),
       QE_Wld = num(fit$QE.Wld), QEp_Wld = num(fit$QEp.Wld), QE_LRT = num(fit$QE.LRT),
       QEp_LRT = num(fit$QEp.LRT), QE_df = num(fit$QE.df), I2 = num(fit$I2), H2 = num(fit$H2),
       logLik = num(logLik(fit)), pi_lb = num(pr$pi.lb), pi_ub = num(pr$pi.ub), k = fit$k)
}

out <- list()
for (name in names(TABLES)) {
  d <- TABLES[[name]]
  args <- list(measure = "OR", model = "CM.AL", ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i)
  ce <- suppressWarnings(do.call(rma.glmm, c(args, list(method = "FE"))))
  ml <- suppressWarnings(do.call(rma.glmm, c(args, list(method = "ML", control = TIGHT))))
  out[[name]] <- list(
    source = d$source, ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i,
    CE = record(ce, 'rma.glmm(measure = "OR", ai, n1i, ci, n2i, model = "CM.AL", method = "FE")'),
    ML = record(ml, sprintf('rma.glmm(measure = "OR", ai, n1i, ci, n2i, model = "CM.AL", control = %s)', TIGHT_TEXT))
  )
}

META <- list(r_version = R.version.string, metafor_version = as.character(packageVersion("metafor")),
             metadat_version = as.character(packageVersion("metadat")),
             lme4_version = as.character(packageVersion("lme4")),
             jsonlite_version = as.character(packageVersion("jsonlite")), tight_control = TIGHT_TEXT)
write_json(list(meta = META, datasets = out), file.path(OUT_DIR, "or_cmal.json"), digits = NA,
           auto_unbox = TRUE, pretty = TRUE, na = "null")
cat("wrote", file.path(OUT_DIR, "or_cmal.json"), "\n")
